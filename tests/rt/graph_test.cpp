#include "rt/graph.hpp"
