// weft/weft.hpp - the umbrella header: every portable component of weft.
// Adapters that need a hosted backend (libsodium, fmt, POSIX files and sockets) are
// included by name, never from here, so this header also builds for firmware.
#pragma once

#include "weft/config.hpp"
#include "weft/core/core.hpp"
#include "weft/wire/cbor.hpp"
#include "weft/wire/frame.hpp"
#include "weft/wire/schema.hpp"
#include "weft/membership/swim/swim.hpp"
