// Poses, the room clock and blobs from C++ (arsock_poses.hpp), in one process on 127.0.0.1:
//   1. two devices join a hub's room; a's poses reach b within 0.1 mm with a's id and seq 1;
//      a bad pose (NaN) throws INVALID_ARGUMENT and sends nothing; sample_poses extrapolates
//      at most 100 ms, then holds; the pose vector's capacity is reused (no allocation);
//   2. room time: an error bound, never decreasing;
//   3. a 2 MiB blob: NOT_FOUND before, BLOB_AVAILABLE at both, the same bytes; delete ->
//      BLOB_AVAILABLE with ARSOCK_BLOB_DELETED -> NOT_FOUND.
// Exits 0 only if every check passed. Every wait is bounded.

#include "arsock_poses.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok:  " : "FAIL:", what.c_str());
    if (!ok) {
        ++failures;
    }
}

using Clock = std::chrono::steady_clock;

template <typename F>
bool until(F&& done) {
    const auto end = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < end) {
        if (done()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
}

uint32_t join(arsock::Session& s) {
    const auto end = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < end) {
        for (const arsock::Event& e : s.poll(100)) {
            if (e == arsock::EventKind::joined) {
                return e.peer;
            }
        }
    }
    throw std::runtime_error("no JOINED");
}

/// The next BLOB_AVAILABLE for `key` whose flags include `flags`.
bool wait_blob(arsock::Session& s, const std::string& key, uint32_t flags, arsock::Event& out) {
    const auto end = Clock::now() + std::chrono::seconds(10);
    arsock::Event e[1];
    while (Clock::now() < end) {
        if (s.poll(e, 1, 100) == 1 && e[0].kind == ARSOCK_EVENT_BLOB_AVAILABLE &&
            arsock::blob_key(s, e[0]) == key && (e[0].flags & flags) == flags) {
            out = e[0];
            return true;
        }
    }
    return false;
}

void run() {
    arsock::Hub hub = arsock::Hub::start("127.0.0.1", 0);
    arsock::Session a = arsock::Session::open("127.0.0.1", hub.local_port(), "cpp-poses");
    arsock::Session b = arsock::Session::open("127.0.0.1", hub.local_port(), "cpp-poses");
    const uint32_t aid = join(a);
    join(b);

    // 1. poses
    const float h = std::sqrt(0.5f);
    std::vector<arsock::Pose> mine = {
        arsock::make_pose(1, {1.2345f, 1.6f, -2.f}, {0.f, h, 0.f, h}, 5'000'000),
        arsock::make_pose(2, {0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 1.f}, 0, 7),
    };
    arsock::send_poses(a, mine);
    std::vector<arsock::Pose> got;
    got.reserve(8);
    const arsock::Pose* before = got.data();
    expect(until([&] {
               arsock::latest_poses(b, got);
               return got.size() == 2;
           }),
           "b sees a's two poses");
    expect(got.data() == before, "latest_poses reuses the vector's capacity");
    expect(got[0].peer == aid && got[0].entity == 1 && got[0].seq == 1 &&
               std::fabs(got[0].position[0] - 1.2345f) <= 1e-4f && got[0].time_us == 5'000'000,
           "peer, entity, seq, position within 0.1 mm, time_us");
    expect(got[1].flags == 7 && got[1].time_us > 0, "flags passed through, time_us 0 = now");
    try {
        arsock::Pose bad = arsock::make_pose(3, {NAN, 0.f, 0.f}, {0.f, 0.f, 0.f, 1.f});
        arsock::send_poses(a, &bad, 1);
        expect(false, "a NaN pose throws");
    } catch (const arsock::Error& e) {
        expect(e.status() == ARSOCK_ERR_INVALID_ARGUMENT, std::string("NaN pose: ") + e.what());
    }
    mine[0] = arsock::make_pose(1, {2.2345f, 1.6f, -2.f}, {0.f, h, 0.f, h}, 5'100'000);
    arsock::send_poses(a, &mine[0], 1);
    expect(until([&] {
               arsock::latest_poses(b, got);
               return got.size() == 2 && got[0].seq == 2;
           }),
           "the newer pose replaces the older");
    std::vector<arsock::Pose> sampled;
    arsock::sample_poses(b, 5'150'000, sampled);
    expect(sampled.size() == 2 && std::fabs(sampled[0].position[0] - 2.7345f) < 1e-3f,
           "extrapolated 50 ms at 10 m/s");
    arsock::sample_poses(b, 9'000'000, sampled);
    expect(std::fabs(sampled[0].position[0] - 3.2345f) < 1e-3f, "held after 100 ms");
    expect(until([&] { return arsock::try_room_time(b).has_value(); }), "a clock estimate");

    // 2. clock
    arsock::RoomTime last = arsock::room_time(b);
    bool monotonic = last.error_bound_us >= 0;
    for (int i = 0; i < 1000; ++i) {
        const arsock::RoomTime t = arsock::room_time(b);
        monotonic = monotonic && t.room_us >= last.room_us && t.error_bound_us >= 0;
        last = t;
    }
    expect(monotonic, "room time never decreases; bound >= 0 (" +
                          std::to_string(last.error_bound_us) + " us)");

    // 3. blobs
    std::vector<uint8_t> blob(2 * 1024 * 1024 + 3);
    for (size_t i = 0; i < blob.size(); ++i) {
        blob[i] = static_cast<uint8_t>(i * 131u + 7u);
    }
    arsock::put_blob(a, "mesh", blob);
    std::vector<uint8_t> out;
    expect(!arsock::try_get_blob(a, "mesh", out), "NOT_FOUND before the hub holds it");
    arsock::Event ev{};
    expect(wait_blob(b, "mesh", 0, ev) && ev.peer == aid && ev.size == blob.size(),
           "BLOB_AVAILABLE at b (uploader, size)");
    expect(arsock::get_blob(b, "mesh") == blob, "b reads the same bytes");
    expect(wait_blob(a, "mesh", 0, ev) && arsock::get_blob(a, "mesh") == blob,
           "the uploader is told too and reads it");
    arsock::delete_blob(b, "mesh");
    expect(wait_blob(a, "mesh", ARSOCK_BLOB_DELETED, ev) && arsock::is_blob_deleted(ev),
           "delete: BLOB_AVAILABLE(DELETED)");
    try {
        arsock::get_blob(a, "mesh");
        expect(false, "get_blob after delete throws");
    } catch (const arsock::Error& e) {
        expect(e.status() == ARSOCK_ERR_NOT_FOUND, std::string("after delete: ") + e.what());
    }
}

}  // namespace

int main() {
    try {
        arsock::check_abi();
        run();
    } catch (const std::exception& e) {
        std::printf("FAIL: exception: %s\n", e.what());
        return 1;
    }
    std::printf("%s: %d failure(s)\n", failures == 0 ? "all poses checks passed" : "FAILED",
                failures);
    return failures == 0 ? 0 : 1;
}
