// weft/core/core.hpp - the whole core vocabulary.
#pragma once

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/concepts.hpp"
#include "weft/core/crc32c.hpp"
#include "weft/core/endian.hpp"
#include "weft/core/error.hpp"
#include "weft/core/random.hpp"
#include "weft/core/result.hpp"
#include "weft/core/ring_buffer.hpp"
#include "weft/core/static_vector.hpp"
#include "weft/core/time.hpp"
