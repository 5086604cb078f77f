// Filled in by the dead_letter unit.
#include "rt/dead_letter.hpp"
