"""scipy.ndimage as cupyx.scipy.ndimage, for session.py's tests (see ../../../README.md)."""
import numpy as _np
from scipy.ndimage import (distance_transform_edt, gaussian_filter, grey_dilation, grey_erosion,  # noqa: F401
                           label, median_filter, uniform_filter)
from scipy import ndimage as _ndi


def minimum(input, labels=None, index=None):
    return _np.asarray(_ndi.minimum(input, labels, index))


def maximum(input, labels=None, index=None):
    return _np.asarray(_ndi.maximum(input, labels, index))
