// ISA-L's igzip: a deflate/gzip inflate several times faster than zlib's (used for reading .gz).
#include <isa-l/igzip_lib.h>
