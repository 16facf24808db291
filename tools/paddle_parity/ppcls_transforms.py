"""PaddleClas 2.6's image transforms for the CIFAR recipes, as plain numpy/cv2 functions.

The reference side of kclass's fidelity checks (reference_train.py, reference_draws.py). Written from
the behaviour of PaddleClas's engine, not from its code. Randomness is explicit: the per-image ops
take a `random.Random` (PaddleClas draws from Python's `random`), Mixup a `np.random.RandomState`
(PaddleClas draws it from numpy). No paddle import: this module also runs where only numpy and cv2
are installed.

Images are uint8 HWC RGB until `normalize`, as in PaddleClas (cv2 returns uint8 after resizing).
"""

import math

import cv2
import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SCALE = (0.08, 1.0)
RATIO = (3.0 / 4.0, 4.0 / 3.0)


def decode(encoded):
    """JPEG/PNG bytes -> uint8 [H, W, 3] RGB: cv2 decodes to BGR, PaddleClas flips to RGB."""
    bgr = cv2.imdecode(np.frombuffer(encoded, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("cv2 could not decode the image bytes")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def _resize(image, height, width):
    # cv2's default interpolation is INTER_LINEAR; PaddleClas passes none for these recipes.
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def crop_box(height, width, rng, scale=SCALE, ratio=RATIO):
    """RandCropImage's box (y, x, h, w) for a `height` x `width` image, drawn from `rng`.

    Draw order: aspect, area, x, y. Aspect is sqrt(U(ratio)) and the area fraction U(scale), both
    linear; the scale range is clipped by `bound` so the box always fits; no retries. x and y are
    inclusive randints.
    """
    aspect = math.sqrt(rng.uniform(*ratio))
    w_ratio, h_ratio = aspect, 1.0 / aspect
    bound = min((width / height) / w_ratio ** 2, (height / width) / h_ratio ** 2)
    scale_max = min(scale[1], bound)
    scale_min = min(scale[0], bound)
    side = math.sqrt(width * height * rng.uniform(scale_min, scale_max))
    w, h = int(side * w_ratio), int(side * h_ratio)
    x = rng.randint(0, width - w)
    y = rng.randint(0, height - h)
    return y, x, h, w


def rand_crop(image, size, rng, scale=SCALE, ratio=RATIO):
    """RandCropImage: uint8 [H, W, 3] -> uint8 [size, size, 3] (bilinear)."""
    y, x, h, w = crop_box(image.shape[0], image.shape[1], rng, scale, ratio)
    return _resize(image[y:y + h, x:x + w], size, size)


def flip_draw(rng):
    """RandFlipImage's coin: True (flip) when randint(0, 1) is 1."""
    return rng.randint(0, 1) == 1


def rand_flip(image, rng):
    """RandFlipImage(flip_code=1): horizontal flip with probability 0.5."""
    return np.ascontiguousarray(image[:, ::-1]) if flip_draw(rng) else image


def resize_short(image, short):
    """ResizeImage(resize_short): short side to `short`, both sides rounded (Python's round)."""
    height, width = image.shape[:2]
    percent = float(short) / min(height, width)
    return _resize(image, int(round(height * percent)), int(round(width * percent)))


def center_crop(image, size):
    """CropImage: the centre `size` x `size` window, offset (side - size) // 2."""
    height, width = image.shape[:2]
    top, left = (height - size) // 2, (width - size) // 2
    return image[top:top + size, left:left + size]


def eval_resize_short(image_size):
    """The eval resize PaddleClas's configs pair with a crop: 36 for 32, 256 for 224."""
    return int(math.floor(image_size * 8 / 7))


def normalize(image, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """NormalizeImage(scale 1/255), in float32 as PaddleClas computes it: uint8 HWC -> float32 HWC."""
    x = image.astype(np.float32) * np.float32(1.0 / 255.0)
    return (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


def to_chw(image):
    """ToCHWImage: [H, W, C] -> [C, H, W]."""
    return np.ascontiguousarray(image.transpose(2, 0, 1))


def train_uint8(encoded, image_size, rng):
    """decode, RandCropImage, RandFlipImage: bytes -> uint8 [size, size, 3]."""
    return rand_flip(rand_crop(decode(encoded), image_size, rng), rng)


def eval_uint8(encoded, image_size, resize=None):
    """decode, ResizeImage(resize_short), CropImage: bytes -> uint8 [size, size, 3]."""
    image = resize_short(decode(encoded), resize or eval_resize_short(image_size))
    return center_crop(image, image_size)


def train_image(encoded, image_size, rng):
    """The train transform list of the CIFAR recipes: bytes -> float32 [3, size, size]."""
    return to_chw(normalize(train_uint8(encoded, image_size, rng)))


def eval_image(encoded, image_size, resize=None):
    """The eval transform list of the CIFAR recipes: bytes -> float32 [3, size, size]."""
    return to_chw(normalize(eval_uint8(encoded, image_size, resize)))


def mixup(images, labels, num_classes, alpha, rng):
    """Mixup as a batch op on normalised images: one permutation, then one lam ~ Beta(alpha, alpha).

    images float32 [N, ...], labels int [N]; returns the mixed images and the mixed one-hot targets
    float32 [N, num_classes] (soft-target CE on them equals lam CE(y) + (1 - lam) CE(y[perm])), and lam.
    """
    perm = rng.permutation(len(images))
    lam = float(rng.beta(alpha, alpha))
    mixed = (lam * images + (1.0 - lam) * images[perm]).astype(np.float32)
    one_hot = np.eye(num_classes, dtype=np.float32)[np.asarray(labels).reshape(-1)]
    targets = (lam * one_hot + (1.0 - lam) * one_hot[perm]).astype(np.float32)
    return mixed, targets, lam
