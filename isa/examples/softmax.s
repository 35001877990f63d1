# softmax: out[r, :] = exp(x[r, :] - max x[r, :]) / sum exp(x[r, :] - max x[r, :]), rows of 1024.
#
# Program pid handles rows pid*128 .. pid*128+127, one row per partition; the tail is masked
# with a bound on the row dim (rows = n_rows - pid*128): masked rows load as 0 and are not stored.
# Per row: DVE max-reduce, negate, ACT exp with the negated max as a per-partition bias and a
# fused sum-reduce, DVE reciprocal and scale. Loads use queues 0..3 and stores 4..7; SBUF buffers
# rotate with pid % 3 so consecutive programs overlap.
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
        dma.load 0, sb.f32[0:32, r10+0, (1,1024)], hbm.f32[r1+0, (1024,32,r6), (1,1024)], 0.0
        subi    r6, r6, 32
        dma.load 1, sb.f32[32:64, r10+0, (1,1024)], hbm.f32[r1+131072, (1024,32,r6), (1,1024)], 0.0
        subi    r6, r6, 32
        dma.load 2, sb.f32[64:96, r10+0, (1,1024)], hbm.f32[r1+262144, (1024,32,r6), (1,1024)], 0.0
        subi    r6, r6, 32
        dma.load 3, sb.f32[96:128, r10+0, (1,1024)], hbm.f32[r1+393216, (1024,32,r6), (1,1024)], 0.0
        reduce  max, sb.f32[0:128, r10+8192], sb.f32[0:128, r10+0, (1,1024)]
        ts      mul, sb.f32[0:128, r10+8196], sb.f32[0:128, r10+8192], -1.0
        act     exp, sb.f32[0:128, r10+4096, (1,1024)], sb.f32[0:128, r10+0, (1,1024)], sb.f32[0:128, r10+8196], 1.0, sb.f32[0:128, r10+8200], add
        ts      rdiv, sb.f32[0:128, r10+8204], sb.f32[0:128, r10+8200], 1.0
        ts      mul, sb.f32[0:128, r10+4096, (1,1024)], sb.f32[0:128, r10+4096, (1,1024)], sb.f32[0:128, r10+8204]
        addi    r6, r6, 96          # back to the block's valid rows
        dma.store 4, hbm.f32[r2+0, (1024,32,r6), (1,1024)], sb.f32[0:32, r10+4096, (1,1024)]
        subi    r6, r6, 32
        dma.store 5, hbm.f32[r2+131072, (1024,32,r6), (1,1024)], sb.f32[32:64, r10+4096, (1,1024)]
        subi    r6, r6, 32
        dma.store 6, hbm.f32[r2+262144, (1024,32,r6), (1,1024)], sb.f32[64:96, r10+4096, (1,1024)]
        subi    r6, r6, 32
        dma.store 7, hbm.f32[r2+393216, (1024,32,r6), (1,1024)], sb.f32[96:128, r10+4096, (1,1024)]
        halt
