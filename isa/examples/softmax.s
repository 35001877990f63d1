# softmax: out[r, :] = exp(x[r, :] - max x[r, :]) / sum exp(x[r, :] - max x[r, :]), rows of 1024.
#
# Program pid handles rows pid*128 .. pid*128+127, one row per partition; the tail is masked
# with a bound on the row dim of each DMA (valid rows of its 16-row slice): masked rows load as 0
# and are not stored. Per row: DVE max-reduce, negate, ACT exp with the negated max as a
# per-partition bias and a fused sum-reduce, DVE reciprocal and scale.
# Loads use queues 0..7 and stores 8..15 (16 rows, 64 KiB each), so no load waits behind a store;
# SBUF buffers rotate with pid % 3 so consecutive programs overlap.
.arg x
.arg out
.arg n_rows
        arg     r1, x
        arg     r2, out
        arg     r3, n_rows
        pid     r4, 0
        muli    r5, r4, 128
        sub     r6, r3, r5          # valid rows of this block
        shli    r7, r5, 12          # row block byte offset: pid * 128 * 1024 * 4
        add     r1, r1, r7
        add     r2, r2, r7
        remi    r8, r4, 3
        muli    r10, r8, 8448       # buffer: x at +0, out at +4096, stats at +8192
        subi    r11, r6, 0          # valid rows of slice 0
        subi    r12, r6, 16          # valid rows of slice 1
        subi    r13, r6, 32          # valid rows of slice 2
        subi    r14, r6, 48          # valid rows of slice 3
        subi    r15, r6, 64          # valid rows of slice 4
        subi    r16, r6, 80          # valid rows of slice 5
        subi    r17, r6, 96          # valid rows of slice 6
        subi    r18, r6, 112          # valid rows of slice 7
        dma.load 0, sb.f32[0:16, r10+0, (1,1024)], hbm.f32[r1+0, (1024,16,r11), (1,1024)], 0.0
        dma.load 1, sb.f32[16:32, r10+0, (1,1024)], hbm.f32[r1+65536, (1024,16,r12), (1,1024)], 0.0
        dma.load 2, sb.f32[32:48, r10+0, (1,1024)], hbm.f32[r1+131072, (1024,16,r13), (1,1024)], 0.0
        dma.load 3, sb.f32[48:64, r10+0, (1,1024)], hbm.f32[r1+196608, (1024,16,r14), (1,1024)], 0.0
        dma.load 4, sb.f32[64:80, r10+0, (1,1024)], hbm.f32[r1+262144, (1024,16,r15), (1,1024)], 0.0
        dma.load 5, sb.f32[80:96, r10+0, (1,1024)], hbm.f32[r1+327680, (1024,16,r16), (1,1024)], 0.0
        dma.load 6, sb.f32[96:112, r10+0, (1,1024)], hbm.f32[r1+393216, (1024,16,r17), (1,1024)], 0.0
        dma.load 7, sb.f32[112:128, r10+0, (1,1024)], hbm.f32[r1+458752, (1024,16,r18), (1,1024)], 0.0
        reduce  max, sb.f32[0:128, r10+8192], sb.f32[0:128, r10+0, (1,1024)]
        ts      mul, sb.f32[0:128, r10+8196], sb.f32[0:128, r10+8192], -1.0
        act     exp, sb.f32[0:128, r10+4096, (1,1024)], sb.f32[0:128, r10+0, (1,1024)], sb.f32[0:128, r10+8196], 1.0, sb.f32[0:128, r10+8200], add
        ts      rdiv, sb.f32[0:128, r10+8204], sb.f32[0:128, r10+8200], 1.0
        ts      mul, sb.f32[0:128, r10+4096, (1,1024)], sb.f32[0:128, r10+4096, (1,1024)], sb.f32[0:128, r10+8204]
        dma.store 8, hbm.f32[r2+0, (1024,16,r11), (1,1024)], sb.f32[0:16, r10+4096, (1,1024)]
        dma.store 9, hbm.f32[r2+65536, (1024,16,r12), (1,1024)], sb.f32[16:32, r10+4096, (1,1024)]
        dma.store 10, hbm.f32[r2+131072, (1024,16,r13), (1,1024)], sb.f32[32:48, r10+4096, (1,1024)]
        dma.store 11, hbm.f32[r2+196608, (1024,16,r14), (1,1024)], sb.f32[48:64, r10+4096, (1,1024)]
        dma.store 12, hbm.f32[r2+262144, (1024,16,r15), (1,1024)], sb.f32[64:80, r10+4096, (1,1024)]
        dma.store 13, hbm.f32[r2+327680, (1024,16,r16), (1,1024)], sb.f32[80:96, r10+4096, (1,1024)]
        dma.store 14, hbm.f32[r2+393216, (1024,16,r17), (1,1024)], sb.f32[96:112, r10+4096, (1,1024)]
        dma.store 15, hbm.f32[r2+458752, (1024,16,r18), (1,1024)], sb.f32[112:128, r10+4096, (1,1024)]
        halt
