"""Generated protocol buffer modules (see proto/generate.py); wire-compatible with tensorboard's."""
