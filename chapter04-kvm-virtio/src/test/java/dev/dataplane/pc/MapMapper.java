package dev.dataplane.pc;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A map-backed {@link AddressSpaceMapper} that stands in for the machine's buses: it refuses
 * overlapping ranges, records every call, and dispatches accesses like a bus would.
 */
final class MapMapper implements AddressSpaceMapper {

    record Range(boolean io, long base, long length, IoDevice device) {
        boolean overlaps(boolean otherIo, long otherBase, long otherLength) {
            return io == otherIo && otherBase < base + length && base < otherBase + otherLength;
        }
    }

    private final Map<String, Range> ranges = new TreeMap<>();
    final List<String> log = new ArrayList<>();

    /** Puts a fixed device (like the serial port) on the bus. */
    void fixed(boolean io, long base, long length, IoDevice device) {
        ranges.put(key(io, base), new Range(io, base, length, device));
    }

    @Override
    public boolean map(boolean io, long base, long length, IoDevice device) {
        for (Range r : ranges.values()) {
            if (r.overlaps(io, base, length)) {
                log.add("refuse " + describe(io, base, length));
                return false;
            }
        }
        ranges.put(key(io, base), new Range(io, base, length, device));
        log.add("map " + describe(io, base, length));
        return true;
    }

    @Override
    public void unmap(boolean io, long base, long length) {
        Range r = ranges.remove(key(io, base));
        if (r == null || r.length() != length) {
            throw new AssertionError("unmap of a range that was not mapped: " + describe(io, base, length));
        }
        log.add("unmap " + describe(io, base, length));
    }

    List<Range> ranges() {
        return List.copyOf(ranges.values());
    }

    /** The device decoding {@code address}, or null. */
    Range at(boolean io, long address) {
        for (Range r : ranges.values()) {
            if (r.io() == io && address >= r.base() && address < r.base() + r.length()) {
                return r;
            }
        }
        return null;
    }

    long read(boolean io, long address, int size) {
        Range r = at(io, address);
        return r == null ? -1L >>> (64 - 8 * size) : r.device().read(address - r.base(), size);
    }

    void write(boolean io, long address, int size, long value) {
        Range r = at(io, address);
        if (r != null) {
            r.device().write(address - r.base(), size, value);
        }
    }

    static String describe(boolean io, long base, long length) {
        return (io ? "io " : "mem ") + "0x" + Long.toHexString(base) + "+0x" + Long.toHexString(length);
    }

    private static String key(boolean io, long base) {
        return (io ? "io:" : "mem:") + String.format("%016x", base);
    }
}
