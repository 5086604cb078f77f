// Filled in by the graph unit.
#include "rt/graph.hpp"
