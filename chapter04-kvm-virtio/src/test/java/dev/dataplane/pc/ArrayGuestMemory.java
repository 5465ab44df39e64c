package dev.dataplane.pc;

import dev.dataplane.kvm.GuestMemory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Guest RAM on the Java heap, for tests without KVM; bounds-checked like the real thing. */
final class ArrayGuestMemory implements GuestMemory {
    private final ByteBuffer ram;
    private long writes;

    ArrayGuestMemory(int size) {
        this.ram = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public long size() {
        return ram.capacity();
    }

    /** How many write calls reached the memory. */
    long writes() {
        return writes;
    }

    byte[] snapshot() {
        byte[] copy = new byte[ram.capacity()];
        ram.get(0, copy);
        return copy;
    }

    String readCString(long gpa) {
        StringBuilder sb = new StringBuilder();
        for (long a = gpa; readByte(a) != 0; a++) {
            sb.append((char) (readByte(a) & 0xff));
        }
        return sb.toString();
    }

    @Override
    public byte readByte(long gpa) {
        check(gpa, 1);
        return ram.get((int) gpa);
    }

    @Override
    public short readShort(long gpa) {
        check(gpa, 2);
        return ram.getShort((int) gpa);
    }

    @Override
    public int readInt(long gpa) {
        check(gpa, 4);
        return ram.getInt((int) gpa);
    }

    @Override
    public long readLong(long gpa) {
        check(gpa, 8);
        return ram.getLong((int) gpa);
    }

    @Override
    public void writeByte(long gpa, byte value) {
        check(gpa, 1);
        writes++;
        ram.put((int) gpa, value);
    }

    @Override
    public void writeShort(long gpa, short value) {
        check(gpa, 2);
        writes++;
        ram.putShort((int) gpa, value);
    }

    @Override
    public void writeInt(long gpa, int value) {
        check(gpa, 4);
        writes++;
        ram.putInt((int) gpa, value);
    }

    @Override
    public void writeLong(long gpa, long value) {
        check(gpa, 8);
        writes++;
        ram.putLong((int) gpa, value);
    }

    @Override
    public void read(long gpa, byte[] dst, int off, int len) {
        check(gpa, len);
        ram.get((int) gpa, dst, off, len);
    }

    @Override
    public void write(long gpa, byte[] src, int off, int len) {
        check(gpa, len);
        writes++;
        ram.put((int) gpa, src, off, len);
    }

    @Override
    public ByteBuffer slice(long gpa, int len) {
        check(gpa, len);
        return ram.slice((int) gpa, len).order(ByteOrder.LITTLE_ENDIAN);
    }
}
