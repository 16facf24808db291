"""What every `python -m kclass.<verb>` shares: Gin flags, config parsing, one-line user errors."""

import logging
import os
import re
import sys

from absl import flags

from kclass.errors import ConfigError, UserError

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(PACKAGE_DIR)
_MACRO = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")


def define_gin_flags():
    flags.DEFINE_multi_string("gin_file", [], "Recipe file(s); later files override earlier ones.")
    flags.DEFINE_multi_string("gin_param", [], "Gin binding(s), e.g. 'EPOCHS=3' or 'OptimizerConfig.l2=0'.")
    flags.DEFINE_string("model_dir", None, "Run directory; overrides the recipe's MODEL_DIR.")


def define_device_flags():
    flags.DEFINE_string("gpus", None, "GPUs to use, e.g. 0,1,2,3 (Paddle's --gpus).")
    flags.DEFINE_integer("cpu_devices", None, "Split the CPU into N logical devices (tests, CPU users).",
                         lower_bound=1)


def recipe_roots():
    """Folders whose `gin/` holds kclass's recipes: a checkout's root, or the installed package, where
    `pip install .` puts gin/ as kclass/gin. `gin/quick_start/demo.gin` (and the recipes' includes)
    resolve against the working directory first, then these."""
    return [root for root in (REPO_ROOT, PACKAGE_DIR) if os.path.isdir(os.path.join(root, "gin"))]


def parse_gin(gin_files, gin_params, model_dir=None):
    """Parses recipes then bindings; a binding of an undefined macro (a typo) fails at once."""
    import gin
    import kclass.configurables  # noqa: F401  (registers the configurables)

    if not gin_files:
        raise ConfigError("give a recipe with --gin_file (e.g. gin/quick_start/demo.gin)")
    gin.clear_config()
    root_logger = logging.getLogger()
    root_logger.addFilter(_quiet_gin_misses)
    try:
        _parse(gin, gin_files, gin_params, model_dir)
    finally:
        root_logger.removeFilter(_quiet_gin_misses)


def _quiet_gin_misses(record) -> bool:
    """gin's package-resource reader logs an ERROR for each search path that misses a recipe before
    another one finds it (a run from outside the checkout): noise, since a recipe found nowhere is a
    ConfigError anyway."""
    return not (record.module == "resource_reader" and record.getMessage().startswith("Path not found"))


def _parse(gin, gin_files, gin_params, model_dir):
    roots = recipe_roots()
    for root in roots:
        gin.add_config_file_search_path(root)
    for path in gin_files:
        if not os.path.isfile(path) and not any(os.path.isfile(os.path.join(root, path)) for root in roots):
            raise ConfigError(f"{path}: recipe file not found (looked in the working directory and in "
                              f"{', '.join(roots) or 'the kclass package'})")
    try:
        gin.parse_config_files_and_bindings(gin_files, None, finalize_config=False)
        params = list(gin_params) + ([f"MODEL_DIR = {model_dir!r}"] if model_dir else [])
        for param in params:
            match = _MACRO.match(param)
            if match:  # `NAME = value`: must override a macro the recipe defines
                _check_macro(gin, match.group(1), gin_files)
        gin.parse_config(params)
        gin.finalize()
    except (ValueError, SyntaxError, OSError) as e:
        raise ConfigError(f"gin: {str(e).strip()}") from None


def _check_macro(gin, name, gin_files):
    try:
        gin.query_parameter(f"%{name}")
    except ValueError:
        raise ConfigError(f"--gin_param {name}=...: {name} is not a macro of {', '.join(gin_files)} "
                          "(misspelt? macros are UPPER_CASE like EPOCHS, LR, BATCH_SIZE)") from None


def run_main(main):
    """Runs `main()`; a UserError becomes one line on stderr and exit status 2.

    `main` imports TensorFlow, if it needs it, after `cuda_probe.install()`: on a machine without CUDA
    the console then starts with kclass's lines, not TF's CUDA probe.
    """
    from kclass import cuda_probe
    cuda_probe.install()
    try:
        return main()
    except UserError as e:
        print(f"kclass: error: {e}", file=sys.stderr)
        sys.exit(2)
