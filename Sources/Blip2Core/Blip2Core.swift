// Blip2Core: the BLIP-2 engine (component protocols, attention masks, losses, trainers).
@_exported import Tensor
