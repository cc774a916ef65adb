// What each status code means, in English: the text of simdrop_status_string,
// kept in core so that every layer can word an error the same way.
#pragma once

namespace simdrop::detail {

// Never NULL or empty; "unknown simdrop status" for a value that is no status.
const char* status_string(int status);

}  // namespace simdrop::detail
