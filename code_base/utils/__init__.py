"""Helpers that know nothing of the network: argument checks, atomic files, checkpoint files,
the CIFAR-10 download and progress bars."""
