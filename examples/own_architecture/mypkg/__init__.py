"""An architecture kept outside archbench's repository (see README.md next to this folder)."""
