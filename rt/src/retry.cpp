// Filled in by the retry unit.
#include "rt/retry.hpp"
