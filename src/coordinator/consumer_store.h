// The record of a KIP-848 consumer group in the metadata store. It lives in
// the group's meta key (/ks/groups/<slot>/<group>/meta, store_format.h) as
// the "consumer" object of the group record: group and assignment epochs,
// members (subscriptions, epochs, state, owned partitions), the target
// assignment and the subscribed topics as last seen (so that a restart does
// not look like a metadata change).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "coordinator/consumer_group.h"

namespace ks::coordinator {

// A JSON object (not a whole record: store_format embeds it).
std::string encode_consumer_state(const ConsumerGroupState& cg);
// Session deadlines and regexes are not stored: the caller sets the former,
// the first heartbeat compiles the latter.
Result<ConsumerGroupState> decode_consumer_state(std::string_view json);

}  // namespace ks::coordinator
