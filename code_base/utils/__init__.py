"""Helpers that know nothing of the network: argument checks, atomic files, checkpoint files and
the CIFAR-10 download."""
