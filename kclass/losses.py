"""Losses as per-example tensors [N]; the engine sums them and divides by the global batch."""

import tensorflow as tf


def softmax_cross_entropy(labels, logits, label_smoothing=0.0, class_weights=None):
    """CE per example [N]. `labels`: int ids [N] or soft/one-hot targets [N, C]; logits [N, C].

    PaddleClas smoothing: target * (1 - eps) + eps / C. Computed in float32 whatever the logits' dtype.
    `class_weights` [C] scales each example's CE by its class's weight; a soft target y (Mixup,
    CutMix) by its expected weight sum_c y_c w_c. The weight is read from the target before
    smoothing: smoothing regularises the target, it does not move the image into other classes.
    The engine divides the sum over the batch by the number of images N, not by the weights' sum
    (PyTorch's CrossEntropyLoss(weight=) divides hard labels by the weight sum, soft ones by N): a
    batch's weight sum depends on which classes it drew and would need its own all-reduce across
    replicas; with weights whose mean over the train images is 1 ('balanced') the sum is N on average.
    """
    logits = tf.cast(logits, tf.float32)
    num_classes = tf.shape(logits)[-1]
    if labels.shape.rank == 1:
        labels = tf.one_hot(tf.cast(labels, tf.int32), num_classes)
    labels = tf.cast(labels, tf.float32)
    weights = None if class_weights is None else tf.linalg.matvec(labels, tf.constant(class_weights, tf.float32))
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + label_smoothing / tf.cast(num_classes, tf.float32)
    loss = tf.nn.softmax_cross_entropy_with_logits(labels, logits)
    return loss if weights is None else loss * weights


def sigmoid_cross_entropy(labels, logits, label_smoothing=0.0, pos_weight=None):
    """Multi-label BCE per example [N]: mean over the C classes of labels [N, C] vs logits [N, C].

    PaddleClas smoothing t * (1 - eps) + eps / C; `pos_weight` [C] scales the positive term per class
    (class imbalance). The mean over N x C, as PaddleClas, is this [N] summed over the batch / N.
    """
    logits = tf.cast(logits, tf.float32)
    labels = tf.cast(labels, tf.float32)
    num_classes = tf.cast(tf.shape(logits)[-1], tf.float32)
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + label_smoothing / num_classes
    if pos_weight is None:
        per_slot = tf.nn.sigmoid_cross_entropy_with_logits(labels, logits)
    else:
        per_slot = tf.nn.weighted_cross_entropy_with_logits(labels, logits, tf.constant(pos_weight, tf.float32))
    return tf.reduce_mean(per_slot, axis=-1)


# ---- distillation (SSLD) -------------------------------------------------------------------------
# Every function takes student and teacher logits [N, C] and returns a per-example loss [N]. Teacher
# logits are treated as constants (no gradient flows into the teacher).

DISTILL_LOSSES = ("jsdiv", "js", "kl")
_PADDLE_EPS = 1e-10


def _probabilities(student_logits, teacher_logits, temperature=1.0):
    s = tf.cast(student_logits, tf.float32) / temperature
    t = tf.stop_gradient(tf.cast(teacher_logits, tf.float32)) / temperature
    return tf.nn.softmax(s), tf.nn.softmax(t)


def ssld_jsdiv(student_logits, teacher_logits):
    """PaddleClas release/2.1 "JSDivLoss" (SSLD's default) per example [N]; labels unused, no temperature.

    0.5 * sum_c [p_t log((p_t + 1e-10) / (p_s + 1e-10)) + p_s log((p_s + 1e-10) / (p_t + 1e-10))]:
    a symmetric KL / 2, despite the name not the Jensen-Shannon divergence (see `jensen_shannon`).
    Paddle's mean over N x C times C is this summed over the batch / N.
    """
    p_s, p_t = _probabilities(student_logits, teacher_logits)
    log_ratio = tf.math.log(p_t + _PADDLE_EPS) - tf.math.log(p_s + _PADDLE_EPS)
    return 0.5 * tf.reduce_sum((p_t - p_s) * log_ratio, axis=-1)


def jensen_shannon(student_logits, teacher_logits):
    """True Jensen-Shannon divergence (nats) per example [N]: 0.5 KL(p_s || m) + 0.5 KL(p_t || m), m the mean."""
    s = tf.cast(student_logits, tf.float32)
    t = tf.stop_gradient(tf.cast(teacher_logits, tf.float32))
    log_s, log_t = tf.nn.log_softmax(s), tf.nn.log_softmax(t)
    # log m = log(0.5 (p_s + p_t)) computed in log space, so tiny probabilities cannot give log(0).
    log_m = tf.reduce_logsumexp(tf.stack([log_s, log_t]), axis=0) - tf.math.log(2.0)
    return 0.5 * tf.reduce_sum(tf.exp(log_s) * (log_s - log_m) + tf.exp(log_t) * (log_t - log_m), axis=-1)


def kl_divergence(student_logits, teacher_logits, temperature=1.0):
    """Hinton's KD term per example [N]: T^2 * KL(softmax(t / T) || softmax(s / T)).

    The T^2 keeps the gradient scale independent of T, so a hard-label term keeps its weight.
    """
    s = tf.cast(student_logits, tf.float32) / temperature
    t = tf.stop_gradient(tf.cast(teacher_logits, tf.float32)) / temperature
    log_t = tf.nn.log_softmax(t)
    kl = tf.reduce_sum(tf.exp(log_t) * (log_t - tf.nn.log_softmax(s)), axis=-1)
    return kl * (temperature * temperature)


def labeled_mask(labels):
    """1.0 where an example has a label, 0.0 for unlabelled ones: float32 [N].

    Int labels [N]: id >= 0 (unlabelled lines carry -1). Targets [N, C] (e.g. after Mixup, where
    one_hot(-1) is a zero row): rows with a positive sum.
    """
    if labels.shape.rank == 1:
        return tf.cast(labels >= 0, tf.float32)
    return tf.cast(tf.reduce_sum(tf.cast(labels, tf.float32), axis=-1) > 0, tf.float32)


def masked_cross_entropy(labels, logits, label_smoothing=0.0):
    """Softmax CE per example [N], 0 for unlabelled examples (so they add nothing to the batch mean)."""
    mask = labeled_mask(labels)
    if labels.shape.rank == 1:
        labels = tf.maximum(labels, 0)  # any valid id; the mask zeroes the term
    return softmax_cross_entropy(labels, logits, label_smoothing) * mask


def distillation_loss(labels, student_logits, teacher_logits, kind="jsdiv", temperature=1.0,
                      hard_label_weight=0.0, label_smoothing=0.0):
    """Soft term `kind` (jsdiv | js | kl) + hard_label_weight * CE on labelled examples, per example [N].

    `temperature` applies to "kl" only (PaddleClas's JSDivLoss has none). Labels are read only when
    `hard_label_weight` > 0; unlabelled examples then contribute the soft term alone.
    """
    if kind == "jsdiv":
        loss = ssld_jsdiv(student_logits, teacher_logits)
    elif kind == "js":
        loss = jensen_shannon(student_logits, teacher_logits)
    elif kind == "kl":
        loss = kl_divergence(student_logits, teacher_logits, temperature)
    else:
        raise ValueError(f"distillation loss {kind!r}: expected one of {', '.join(DISTILL_LOSSES)}")
    if hard_label_weight:
        loss += hard_label_weight * masked_cross_entropy(labels, student_logits, label_smoothing)
    return loss
