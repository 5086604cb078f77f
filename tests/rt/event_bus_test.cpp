#include "rt/event_bus.hpp"
