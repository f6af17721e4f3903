// arsock_poses.hpp: header-only C++17 wrapper over a session's poses, room clock and blobs
// (issue 11). Include it instead of / after arsock_session.hpp.
//
// Free functions on an arsock::Session, same conventions as arsock.hpp (failures throw
// arsock::Error; normal control flow has non-throwing forms: try_room_time() returns
// std::nullopt before the first clock estimate, try_get_blob() returns false while a blob is
// absent or incomplete). Every call may be made from any thread (put_blob from a loader
// thread while the render thread samples poses is the normal case).
//
//   arsock::Pose head = arsock::make_pose(kHead, {0.f, 1.6f, 0.f}, {0.f, 0.f, 0.f, 1.f});
//   arsock::send_poses(s, &head, 1);                 // time_us 0 = now (room time)
//   std::vector<arsock::Pose> others;                 // reused every frame: no allocation
//   arsock::sample_poses(s, arsock::room_time(s).room_us - 50000, others);
//   arsock::put_blob(s, "world/map", bytes.data(), bytes.size());  // returns at once
//   // ... a BLOB_AVAILABLE event later: arsock::get_blob(s, "world/map")

#ifndef ARSOCK_POSES_HPP
#define ARSOCK_POSES_HPP

#include "arsock_session.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace arsock {

/// One pose: exactly struct arsock_pose (peer, entity, time_us, position[3], rotation[4],
/// seq, flags, reserved); 56 bytes.
using Pose = arsock_pose;
static_assert(sizeof(Pose) == 56, "arsock_pose is 56 bytes");

/// A pose to send: `entity`, position in metres, rotation as a unit quaternion x, y, z, w;
/// time_us 0 = now.
inline Pose make_pose(uint32_t entity, const std::array<float, 3>& position,
                      const std::array<float, 4>& rotation, int64_t time_us = 0,
                      uint32_t flags = 0) noexcept {
    Pose p{};
    p.entity = entity;
    p.time_us = time_us;
    for (size_t i = 0; i < 3; ++i) {
        p.position[i] = position[i];
    }
    for (size_t i = 0; i < 4; ++i) {
        p.rotation[i] = rotation[i];
    }
    p.flags = flags;
    return p;
}

/// Room time now and its error bound, microseconds.
struct RoomTime {
    int64_t room_us;
    int64_t error_bound_us;
};

/// True for a BLOB_AVAILABLE event announcing a deletion / a refused upload.
inline bool is_blob_deleted(const Event& e) noexcept {
    return e.kind == ARSOCK_EVENT_BLOB_AVAILABLE && (e.flags & ARSOCK_BLOB_DELETED) != 0;
}
inline bool is_blob_refused(const Event& e) noexcept {
    return e.kind == ARSOCK_EVENT_BLOB_AVAILABLE && (e.flags & ARSOCK_BLOB_REFUSED) != 0;
}

/// arsock_session_send_poses: all or nothing (ARSOCK_ERR_INVALID_ARGUMENT for NaN, a
/// rotation norm outside [0.5, 2], a position beyond ±200 km: nothing sent).
inline void send_poses(Session& s, const Pose* poses, size_t n) {
    detail::check(arsock_session_send_poses(s.get(), poses, n));
}
inline void send_poses(Session& s, const std::vector<Pose>& poses) {
    send_poses(s, poses.data(), poses.size());
}

namespace detail {
template <typename F>
void read_poses(std::vector<Pose>& out, F&& call) {
    size_t n = 0;
    for (;;) {
        out.resize(out.capacity());  // within capacity: no allocation
        const arsock_status st = call(out.data(), out.size(), &n);
        if (st == ARSOCK_OK) {
            out.resize(n);  // shrinks: keeps what the call wrote
            return;
        }
        if (st != ARSOCK_ERR_BUFFER_TOO_SMALL) {
            check(st);
        }
        out.reserve(n);  // grows once; the next frames reuse it
    }
}
}  // namespace detail

/// The newest pose of every remote (peer, entity) into `out` (its capacity is reused: no
/// allocation once it is large enough), sorted by peer then entity.
inline void latest_poses(Session& s, std::vector<Pose>& out) {
    out.clear();
    detail::read_poses(out, [&](Pose* p, size_t cap, size_t* n) {
        return arsock_session_latest_poses(s.get(), p, cap, n);
    });
}

/// Every remote entity at `render_time_us` (room time) into `out`: interpolated, extrapolated
/// at most 100 ms past its newest pose, then held.
inline void sample_poses(Session& s, int64_t render_time_us, std::vector<Pose>& out) {
    out.clear();
    detail::read_poses(out, [&](Pose* p, size_t cap, size_t* n) {
        return arsock_session_sample_poses(s.get(), render_time_us, p, cap, n);
    });
}

/// arsock_session_time; throws arsock::Error(ARSOCK_ERR_STATE) before the first estimate.
inline RoomTime room_time(Session& s) {
    RoomTime t{0, 0};
    detail::check(arsock_session_time(s.get(), &t.room_us, &t.error_bound_us));
    return t;
}

/// arsock_session_time, or std::nullopt while there is no estimate yet.
inline std::optional<RoomTime> try_room_time(Session& s) {
    RoomTime t{0, 0};
    const arsock_status st = arsock_session_time(s.get(), &t.room_us, &t.error_bound_us);
    if (st == ARSOCK_ERR_STATE) {
        return std::nullopt;
    }
    detail::check(st);
    return t;
}

/// arsock_session_put_blob: copies `data` and returns at once (ARSOCK_ERR_WOULD_BLOCK over
/// the 256 MiB budget).
inline void put_blob(Session& s, const std::string& key, const void* data, size_t len) {
    detail::check(
        arsock_session_put_blob(s.get(), key.c_str(), static_cast<const uint8_t*>(data), len));
}
inline void put_blob(Session& s, const std::string& key, const std::vector<uint8_t>& data) {
    put_blob(s, key, data.data(), data.size());
}

/// The blob `key` into `out`; false while it is absent or not complete here.
inline bool try_get_blob(Session& s, const std::string& key, std::vector<uint8_t>& out) {
    size_t n = 0;
    for (;;) {
        out.resize(out.capacity());
        const arsock_status st =
            arsock_session_get_blob(s.get(), key.c_str(), out.data(), out.size(), &n);
        if (st == ARSOCK_OK) {
            out.resize(n);
            return true;
        }
        if (st == ARSOCK_ERR_NOT_FOUND) {
            out.clear();
            return false;
        }
        if (st != ARSOCK_ERR_BUFFER_TOO_SMALL) {
            detail::check(st);
        }
        out.reserve(n);
    }
}

/// The blob `key`; throws arsock::Error(ARSOCK_ERR_NOT_FOUND) while absent or incomplete.
inline std::vector<uint8_t> get_blob(Session& s, const std::string& key) {
    std::vector<uint8_t> out;
    if (!try_get_blob(s, key, out)) {
        throw Error(ARSOCK_ERR_NOT_FOUND, arsock_last_error_message());
    }
    return out;
}

/// arsock_session_delete_blob (ARSOCK_ERR_NOT_FOUND if this session knows no such blob).
inline void delete_blob(Session& s, const std::string& key) {
    detail::check(arsock_session_delete_blob(s.get(), key.c_str()));
}

/// The key of a BLOB_AVAILABLE event of the last poll.
inline std::string blob_key(Session& s, const Event& e) {
    char buf[256];
    size_t n = 0;
    detail::check(arsock_session_read(s.get(), e.payload, reinterpret_cast<uint8_t*>(buf),
                                      sizeof buf, &n));
    return std::string(buf, n);
}

}  // namespace arsock

#endif  // ARSOCK_POSES_HPP
