#include "core/status.hpp"

#include "simdrop/simdrop.h"

namespace simdrop::detail {

const char* status_string(int status) {
  switch (status) {
    case SIMDROP_OK: return "success";
    case SIMDROP_ERR_NULL_PARAMS: return "params pointer is NULL";
    case SIMDROP_ERR_KEEP_PROB: return "keep_prob must be a number in [0, 1]";
    case SIMDROP_ERR_THRESHOLD_BITS: return "threshold_bits must be 8, 16 or 32";
    case SIMDROP_ERR_GENERATOR: return "unknown generator";
    case SIMDROP_ERR_NULL_POINTER: return "NULL data pointer with nonzero size";
    case SIMDROP_ERR_INDEX_OVERFLOW: return "global element index overflows (offset + n > 2^64)";
    case SIMDROP_ERR_OVERLAP: return "buffers partially overlap (only exact in-place aliasing is allowed)";
    case SIMDROP_ERR_UNKNOWN_ISA: return "unknown implementation name";
    case SIMDROP_ERR_UNSUPPORTED_ISA: return "implementation not supported by this CPU or build";
    case SIMDROP_ERR_NUM_THREADS: return "number of threads must be >= 0";
    case SIMDROP_ERR_LEADING_DIM: return "leading dimension smaller than the row it holds";
    case SIMDROP_ERR_ARGUMENT: return "argument outside its documented range";
    default: return "unknown simdrop status";
  }
}

}  // namespace simdrop::detail
