#include "tensoripc/error.h"

namespace tensoripc {

// Out-of-line destructors anchor each class's vtable and type_info in the
// library, so catch clauses match across the shared-library boundary.
Error::~Error() = default;
TopicTakenError::~TopicTakenError() = default;
MetadataMismatchError::~MetadataMismatchError() = default;
DaemonUnavailableError::~DaemonUnavailableError() = default;
PoolNotFoundError::~PoolNotFoundError() = default;
InvalidArgumentError::~InvalidArgumentError() = default;
ResourceExhaustedError::~ResourceExhaustedError() = default;
StateError::~StateError() = default;

}  // namespace tensoripc
