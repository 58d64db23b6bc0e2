// libtensoripc-client: everything in one include.
#pragma once

#include "tensoripc/consumer.h"  // IWYU pragma: export
#include "tensoripc/daemon.h"    // IWYU pragma: export
#include "tensoripc/dtype.h"     // IWYU pragma: export
#include "tensoripc/error.h"     // IWYU pragma: export
#include "tensoripc/metadata.h"  // IWYU pragma: export
#include "tensoripc/producer.h"  // IWYU pragma: export
#include "tensoripc/tensor.h"    // IWYU pragma: export
