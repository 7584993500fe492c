//! 2-D convolution (any kernel size, stride, padding, groups): forward and both backwards.
