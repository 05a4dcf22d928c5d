"""Plain ``nn.Module`` networks; each takes its sizes as constructor arguments."""
