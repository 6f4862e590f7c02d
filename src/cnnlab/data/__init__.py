"""Data: image files, the ImageSet currency, data sources and augmentation."""
