// Filled in by the breaker unit.
#include "rt/breaker.hpp"
