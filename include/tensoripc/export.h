// TENSORIPC_EXPORT marks the public API of libtensoripc-client. The library is
// built with -fvisibility=hidden, so everything else (gRPC, protobuf, the
// shared-memory internals) stays private to it.
#pragma once

#if defined(TENSORIPC_STATIC_DEFINE)
#define TENSORIPC_EXPORT
#else
#define TENSORIPC_EXPORT __attribute__((visibility("default")))
#endif
