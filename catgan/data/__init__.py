"""Cat photos in: a folder or a zip decoded, cropped and cached as uint8 tensors (dataset), with
landmark face crops for the CAT dataset's Crawford layout (crawford)."""
from .dataset import DataError, ImageSet, image_names, load_images

__all__ = ["DataError", "ImageSet", "image_names", "load_images"]
