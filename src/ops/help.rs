//! The ops' help text, for the CLI's `--op`.

/// Every op's spec forms with what it equals, for the CLI's `--op` help (keep in step
/// with the op grammar; a test in `ops` checks that each op is named here).
pub const OP_HELP: &str = "An op, `name[:key=value,...]`; repeat for a chain. The ops:
  gaussian:sigma=S[,truncate=4]     scipy.ndimage.gaussian_filter (or sigma_y=..,sigma_x=..[,sigma_z=..]);
                                    int=scipy: scipy's integer path, bit for bit; order=N (or
                                    order_y=..,order_x=..[,order_z=..]): scipy's derivative order, f32
  box:size=N                        scipy.ndimage.uniform_filter (or size_y=..,size_x=..[,size_z=..])
  median:size=N                     scipy.ndimage.median_filter (or size_y=..,size_x=..[,size_z=..])
  gradient:sigma=S[,truncate=4]     scipy.ndimage.gaussian_gradient_magnitude, f32
  log:sigma=S[,truncate=4]          scipy.ndimage.gaussian_laplace; signed, as dog:
  dog:low=S[,high=1.6S,truncate=4]  gaussian(x, low) - gaussian(x, high) (skimage difference_of_gaussians);
                                    signed: write it with --dtype f32 (same rounds to the source's type)
  threshold:value=T                 x > T, a 0/255 mask
  threshold:method=otsu|li|triangle|yen|isodata|mean|minimum
                                    x > skimage.filters.threshold_<method>(x) (one value per frame)
  threshold:method=local,block=N[,offset=C]
                                    x > skimage.filters.threshold_local(x, N, offset=C) (gaussian)
  label[:connectivity=1|2|3]        scipy.ndimage.label / skimage.measure.label, u32
  remove_small_objects:min_size=N   skimage.morphology.remove_small_objects (or max_size=N)
  remove_small_holes[:max_size=64]  skimage.morphology.remove_small_holes (holes of <= N pixels filled;
                                    connectivity=1|2|3), a 0/255 mask
  erode:footprint=F                 skimage.morphology.erosion
  dilate:footprint=F                skimage.morphology.dilation
  open:footprint=F                  skimage.morphology.opening
  close:footprint=F                 skimage.morphology.closing
  tophat:footprint=F                skimage.morphology.white_tophat
  blackhat:footprint=F              skimage.morphology.black_tophat
  distance[:sampling=S]             scipy.ndimage.distance_transform_edt, f32 (or sampling_z=..,sampling_y=..,
                                    sampling_x=..); write it with --dtype f32 (same rounds to the source's type)
  fill_holes                        scipy.ndimage.binary_fill_holes, a 0/255 mask
  clear_border                      skimage.segmentation.clear_border (masks or labels)
  expand_labels[:distance=1]        skimage.segmentation.expand_labels (labels keep their type;
                                    spacing=S or spacing_z=..,spacing_y=..,spacing_x=..)
Modes: gaussian, box, median, dog, log and gradient also take mode=reflect|nearest|mirror|wrap|constant
(scipy.ndimage's; reflect is the default) and, with constant, cval=V (default 0); wrap needs the whole frame.
Footprints F: disk,radius=R | ball,radius=R | cross,radius=R | square,size=N | cube,size=N
(skimage's disk, ball, footprint_rectangle; a cross has arms of R along each axis).";
