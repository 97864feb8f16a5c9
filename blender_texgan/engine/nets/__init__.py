"""The networks: torch modules and their numpy twins (the add-on runs without torch), built
from core.arch shapes and a model file's tensors. Only modules here import torch."""
