package dev.dataplane.kvm;

import dev.dataplane.kvm.linux.KvmAbi;
import java.util.ArrayList;
import java.util.List;

/**
 * One entry of the in-kernel irqchip's GSI routing table ({@code struct kvm_irq_routing_entry};
 * QEMU: {@code kvm_irqchip_add_msi_route}): a GSI goes to a pin of an interrupt controller, or is an
 * MSI message. {@link KvmVm#setGsiRouting} replaces the whole table, so a caller that adds MSI routes
 * passes {@link #defaultPcRoutes()} too.
 *
 * @param type {@code KVM_IRQ_ROUTING_IRQCHIP} or {@code KVM_IRQ_ROUTING_MSI}
 * @param a    irqchip: the chip; MSI: address_lo
 * @param b    irqchip: the pin; MSI: address_hi
 * @param c    MSI: data
 */
public record GsiRoute(int gsi, int type, int a, int b, int c) {

    /** GSI {@code gsi} drives pin {@code pin} of {@code chip} ({@code KvmAbi.KVM_IRQCHIP_*}). */
    public static GsiRoute irqchip(int gsi, int chip, int pin) {
        return new GsiRoute(gsi, KvmAbi.KVM_IRQ_ROUTING_IRQCHIP, chip, pin, 0);
    }

    /** GSI {@code gsi} sends the MSI message ({@code address}, {@code data}). */
    public static GsiRoute msi(int gsi, long address, int data) {
        return new GsiRoute(gsi, KvmAbi.KVM_IRQ_ROUTING_MSI, (int) address, (int) (address >>> 32), data);
    }

    /**
     * The table KVM installs with {@code KVM_CREATE_IRQCHIP}: GSIs 0-15 to the 8259 pair (0-7
     * master, 8-15 slave) and to IOAPIC pins 0-15, GSIs 16-23 to IOAPIC pins 16-23.
     */
    public static List<GsiRoute> defaultPcRoutes() {
        List<GsiRoute> routes = new ArrayList<>();
        for (int gsi = 0; gsi < 24; gsi++) {
            routes.add(irqchip(gsi, KvmAbi.KVM_IRQCHIP_IOAPIC, gsi));
            if (gsi < 16) {
                routes.add(irqchip(gsi, gsi < 8 ? KvmAbi.KVM_IRQCHIP_PIC_MASTER : KvmAbi.KVM_IRQCHIP_PIC_SLAVE, gsi % 8));
            }
        }
        return routes;
    }
}
