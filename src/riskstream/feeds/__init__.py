"""Sources of data: the reference-universe generator, the market simulator, replay and file
loaders.
"""
