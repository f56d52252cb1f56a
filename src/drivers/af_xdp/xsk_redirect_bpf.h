#pragma once
// The compiled xsk_redirect.bpf.c, embedded in the binary at build time (see CMakeLists.txt), so
// the dataplane needs no file at run time to attach its XDP program.

#include <cstddef>

namespace uplinkd::af_xdp {

extern const unsigned char kXskRedirectBpfObject[];
extern const size_t kXskRedirectBpfObjectSize;

}  // namespace uplinkd::af_xdp
