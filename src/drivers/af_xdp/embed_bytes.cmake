# cmake -DINPUT=file.o -DOUTPUT=file.cc -P embed_bytes.cmake
# Writes the bytes of INPUT as uplinkd::af_xdp::kXskRedirectBpfObject[Size].
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# One line per 16 bytes, so the generated file stays readable.
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n    " bytes "${bytes}")
file(WRITE "${OUTPUT}"
"// Generated from ${INPUT} by embed_bytes.cmake; do not edit.\n"
"#include \"drivers/af_xdp/xsk_redirect_bpf.h\"\n\n"
"namespace uplinkd::af_xdp {\n\n"
"alignas(8) const unsigned char kXskRedirectBpfObject[] = {\n    ${bytes}\n};\n"
"const size_t kXskRedirectBpfObjectSize = ${size};\n\n"
"}  // namespace uplinkd::af_xdp\n")
