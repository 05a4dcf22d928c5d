"""Plain ``nn.Module`` networks; each takes its sizes as constructor arguments.

- series: ``lstm`` (LSTM, LSTM with attention), ``cnn``, ``tcn``; graphs: ``gnn``, ``mlp``; images: ``unet``
- shared: ``checks`` (argument checks), ``init`` (weight initialisation), ``checkpointing``
  (gradient checkpointing per block)
"""
