// Channel (spatial) dropout: one decision per (n, c), applied to every spatial
// position of that channel, in NCHW-like or NHWC-like layout.
#include "api/call.hpp"

using namespace simdrop::detail;

extern "C" {

int simdrop_forward_channels_f32(const float* x, float* y, size_t batch, size_t channels, size_t spatial,
                                 int channels_last, const simdrop_params* p, uint8_t* mask) {
  bool work = false;
  if (int s = validate_channels(p, x, y, batch, channels, spatial, channels_last, mask, &work)) return s;
  if (!work) return SIMDROP_OK;
  const size_t decisions = batch * channels, n = decisions * spatial;
  const job j = make_job(*p, n);
  const implementation& impl = call_implementation();
  // The decisions alone are cheap next to the data: the mask is written once,
  // by the mask entry, and the data pass shares the elements (or rows) out.
  if (mask) parallel_ranges(decisions, j.offset, tiling_unit(j), [&](size_t b, size_t e) { impl.mask(j, mask, b, e); });
  if (n == 0) return SIMDROP_OK;
  const channels_view view{x, y, batch, channels, spatial, channels_last == 1};
  parallel_parts(view.parts(), threads_for(n),
                 [&](size_t b, size_t e) { impl.forward_channels_f32(j, view, b, e); });
  return SIMDROP_OK;
}

}  // extern "C"
