"""PaddleClas's counterpart of tools/bench/train.py, for side-by-side ratios.

Runs in the PaddleClas venv (`bash .ci/paddle_env.sh` builds .venv-paddle):
`.venv-paddle/bin/python tools/bench/peers/paddle_bench.py --model ResNet50_vd`. Prints one JSON
line: dygraph training images/s (Momentum 0.9 + L2 1e-4, CE), dygraph eval images/s at batch 64, and
the Paddle Inference predictor with oneDNN (PaddleClas's deployment path): batch-64 images/s and
batch-1 latency in ms.
"""

import argparse
import json
import os
import tempfile

import sklearn  # noqa: F401  Imported before paddle: the reverse order segfaults in zlib (paddle 2.6.2).
import numpy as np
import paddle
from paddleclas.ppcls.arch.backbone.legendary_models import mobilenet_v3, resnet
from timing import median_rate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="ResNet50_vd")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--num_classes", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    paddle.set_device("cpu")
    paddle.seed(0)
    module = mobilenet_v3 if args.model.startswith("MobileNetV3") else resnet
    model = getattr(module, args.model)(class_num=args.num_classes)
    rng = np.random.default_rng(0)
    images = paddle.to_tensor(rng.standard_normal((args.batch, 3, args.image_size, args.image_size), np.float32))
    labels = paddle.to_tensor(rng.integers(0, args.num_classes, (args.batch, 1)))
    opt = paddle.optimizer.Momentum(learning_rate=0.01, momentum=0.9, parameters=model.parameters(),
                                    weight_decay=paddle.regularizer.L2Decay(1e-4))

    def train_step():
        loss = paddle.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        opt.step()
        opt.clear_grad()
        float(loss)

    model.train()
    train = median_rate(train_step, args.steps, args.repeats, args.batch)

    model.eval()

    def eval_step():
        with paddle.no_grad():
            model(images).numpy()

    evals = median_rate(eval_step, args.steps, args.repeats, args.batch)
    predictor_rate, latency_ms = onednn_predictor(model, images.numpy(), args)
    print(json.dumps({"framework": f"paddle {paddle.__version__}", "model": args.model,
                      "train_images_per_s": round(train, 1), "eval_images_per_s": round(evals, 1),
                      "predictor_images_per_s": round(predictor_rate, 1), "predictor_latency_ms": round(latency_ms, 2)}))


def onednn_predictor(model, images, args):
    """Exports `model` with paddle.jit and times it in paddle.inference with oneDNN on 2 threads."""
    from paddle import inference

    prefix = os.path.join(tempfile.mkdtemp(prefix="paddle-bench-"), "model")
    spec = paddle.static.InputSpec([None, 3, args.image_size, args.image_size], "float32", "x")
    paddle.jit.save(paddle.jit.to_static(model, input_spec=[spec]), prefix)
    config = inference.Config(prefix + ".pdmodel", prefix + ".pdiparams")
    config.disable_gpu()
    config.enable_mkldnn()
    config.set_cpu_math_library_num_threads(os.cpu_count() or 1)
    predictor = inference.create_predictor(config)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    output = predictor.get_output_handle(predictor.get_output_names()[0])

    def run(batch):
        handle.copy_from_cpu(batch)
        predictor.run()
        output.copy_to_cpu()

    rate = median_rate(lambda: run(images), args.steps, args.repeats, len(images))
    latency_ms = 1000.0 / median_rate(lambda: run(images[:1]), 5 * args.steps, args.repeats, 1)
    return rate, latency_ms


if __name__ == "__main__":
    main()
