// Filled in by the event_bus unit.
#include "rt/event_bus.hpp"
