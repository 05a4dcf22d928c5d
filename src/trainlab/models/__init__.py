"""LightningModules (one per task) and the plain nets they train (conf/model)."""
