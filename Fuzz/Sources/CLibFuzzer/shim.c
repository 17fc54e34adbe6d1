// SwiftPM needs one source file in a C target; the declaration in include/CLibFuzzer.h is all this target is for.
#include "CLibFuzzer.h"
