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
#include "weft/sim/world.hpp"
#include "weft/sim/network.hpp"
#include "weft/sim/disk.hpp"
#include "weft/sim/swarm.hpp"
#include "weft/sim/linearizability.hpp"
#include "weft/sim/reference_register.hpp"
#include "weft/telemetry/concepts.hpp"
#include "weft/telemetry/metrics.hpp"
#include "weft/telemetry/text_output.hpp"
#include "weft/telemetry/log.hpp"
#include "weft/telemetry/binary_log.hpp"
#include "weft/telemetry/binary_sink.hpp"
#include "weft/telemetry/trace.hpp"
#include "weft/telemetry/prometheus.hpp"
#include "weft/telemetry/otlp_json.hpp"
