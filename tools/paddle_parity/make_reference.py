"""Writes PaddleClas reference weights, inputs and eval-mode logits for kclass's parity test.

Runs with the paddle venv's python (see .ci/paddle_env.sh), never with kclass's:
  .venv-paddle/bin/python tools/paddle_parity/make_reference.py --out DIR

For each model and class count it builds the real PaddleClas (pip paddleclas) model, gives every
tensor random values (BN statistics and affine too, so a swapped mean/variance shows), and writes
  DIR/<model>_<classes>_<size>.2.6.pdparams  paddle.save of the state dict (pip 2.6 names)
  DIR/<model>_<classes>_<size>.2.1.pdparams  the same tensors under PaddleClas release/2.1 names
  DIR/<model>_<classes>_<size>.npz           `inputs` [N, 3, size, size], eval-mode `logits`
                                             [N, classes] (float32) and `logits64` (float64)
BN statistics are calibrated at each evaluation size, hence one weights file per size.
  DIR/manifest.json                    versions and parameter counts
"""

import argparse
import importlib.metadata
import json
import os
import re

import sklearn  # noqa: F401  Imported before paddle: the reverse order segfaults in zlib (paddle 2.6.2).
import numpy as np
import paddle

from paddleclas.ppcls.arch.backbone.legendary_models import mobilenet_v3, resnet

_RESNET_DEPTHS = {"ResNet18_vd": [2, 2, 2, 2], "ResNet34_vd": [3, 4, 6, 3],
                  "ResNet50_vd": [3, 4, 6, 3], "ResNet101_vd": [3, 4, 23, 3]}


def release21_name(model_name, name):
    """pip 2.6 structured name -> release/2.1 structured name (independent of kclass's mapping)."""
    if model_name.startswith("ResNet"):
        stages = [(s, i) for s, n in enumerate(_RESNET_DEPTHS[model_name]) for i in range(n)]
        name = re.sub(r"^stem\.(\d)\.", lambda m: f"conv1_{int(m[1]) + 1}.", name)
        name = re.sub(r"^blocks\.(\d+)\.", lambda m: "bb_%d_%d." % stages[int(m[1])], name)
        name = name.replace(".conv.", "._conv.").replace(".bn.", "._batch_norm.")
    else:
        name = re.sub(r"^conv\.", "conv1.", name)
        name = re.sub(r"^blocks\.(\d+)\.", lambda m: f"conv{int(m[1]) + 2}.", name)
    return re.sub(r"^fc\.", "out.", name)


VARIANCE_FLOOR = 0.01


def randomize(model, rng, calibration_size):
    """Random values in every tensor, with activations normalised as in a trained net.

    BN scale/offset and biases are drawn at random; the BN statistics are then those of one
    train-mode pass over random images at the evaluation size (momentum 0), so every BN sees
    normalised inputs in eval mode. The last BN of each residual branch gets a small scale, as in
    trained nets: with scales ~1 there a random ResNet50 is chaotic and amplifies float32 rounding
    until PaddleClas's own float32 logits differ from its float64 ones by ~4e-4 (measured), which
    no tolerance of 1e-4 could survive; here that self-noise is ~1e-5. Arbitrary statistics are
    worse still: the residual stream grows to ~1e4.
    """
    state = {}
    for name, tensor in model.state_dict().items():
        shape = tensor.shape
        if re.search(r"\.(conv2|linear_conv)\.bn\.weight$", name):
            value = rng.uniform(0.1, 0.3, shape)
        elif re.search(r"(\.bn|_batch_norm)\.weight$", name):
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith(".bias"):
            value = rng.normal(0.0, 0.1, shape)
        else:
            value = tensor.numpy()
        state[name] = paddle.to_tensor(np.asarray(value, dtype="float32"))
    model.set_state_dict(state)
    norms = [layer for layer in model.sublayers() if hasattr(layer, "_momentum")]
    momenta = [layer._momentum for layer in norms]
    for layer in norms:
        layer._momentum = 0.0
    model.train()
    with paddle.no_grad():
        # At 32x32 the last maps are 1x1: the statistics then need many images to be stable.
        batch = 64 if calibration_size <= 64 else 8
        images = rng.standard_normal((batch, 3, calibration_size, calibration_size)).astype("float32")
        model(paddle.to_tensor(images))
    for layer, momentum in zip(norms, momenta):
        layer._momentum = momentum
        # Channels that ReLU kept at ~0 on the calibration batch would get variance ~0 and amplify
        # float32 rounding up to 1/sqrt(eps) = 316x; a floor keeps the net well conditioned.
        layer._variance.set_value(np.maximum(layer._variance.numpy(), VARIANCE_FLOOR))
    model.eval()


def build(model_name, classes):
    module = resnet if model_name.startswith("ResNet") else mobilenet_v3
    return getattr(module, model_name)(class_num=classes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--models", default="ResNet50_vd,MobileNetV3_large_x1_0")
    parser.add_argument("--classes", default="100,1000")
    parser.add_argument("--sizes", default="32,224")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    paddle.set_device("cpu")
    paddle.seed(args.seed)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    manifest = {"paddle": paddle.__version__, "paddleclas": importlib.metadata.version("paddleclas"),
                "numpy": np.__version__, "cases": []}
    for model_name in args.models.split(","):
        for classes in map(int, args.classes.split(",")):
            for size in map(int, args.sizes.split(",")):
                model = build(model_name, classes)
                randomize(model, rng, calibration_size=size)
                stem = os.path.join(args.out, f"{model_name}_{classes}_{size}")
                state = model.state_dict()
                paddle.save(state, f"{stem}.2.6.pdparams")
                paddle.save({release21_name(model_name, k): v for k, v in state.items()},
                            f"{stem}.2.1.pdparams")
                params = model.parameters()
                counts = {"trainable": sum(int(np.prod(p.shape)) for p in params
                                           if not p.stop_gradient),
                          "total": sum(int(np.prod(p.shape)) for p in params)}
                inputs = rng.standard_normal((4 if size <= 64 else 2, 3, size, size)).astype("float32")
                with paddle.no_grad():
                    logits = model(paddle.to_tensor(inputs)).numpy()
                    # float64 logits separate the architecture (exact to ~1e-9) from float32 rounding.
                    model.to(dtype="float64")
                    logits64 = model(paddle.to_tensor(inputs.astype("float64"))).numpy()
                np.savez(f"{stem}.npz", inputs=inputs, logits=logits, logits64=logits64)
                manifest["cases"].append({"model": model_name, "classes": classes, "size": size,
                                          "stem": os.path.basename(stem), "params": counts,
                                          "logit_absmax": float(np.abs(logits).max())})
                print(f"{model_name} {classes} classes {size}x{size}: |logits| <= "
                      f"{np.abs(logits).max():.3f}", flush=True)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
