// libFuzzer's start-up hook for the targets that parse protobuf: keep
// protobuf quiet about the malformed strings they are fed on purpose.
#include "fuzz_support.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tensoripc::fuzz::quiet_protobuf();
  return 0;
}
