"""transformers' learning-rate schedules as the oracle for src/sft/schedule.ts -> test/fixtures/lr-schedules.json.

For each (schedule, warmup, total) the rate a torch optimizer runs each of its `total` steps at, read from
optimizer.param_groups after scheduler.step() as a Trainer does (step s runs at lr_lambda(s)).
Run: /work/venv-hf/bin/python tools/lr_schedule_reference.py
"""
import json
import torch
from transformers import (get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup,
                          get_linear_schedule_with_warmup)

LR = 1e-2
MAKERS = {
    'constant': lambda opt, w, n: get_constant_schedule_with_warmup(opt, w),
    'linear': get_linear_schedule_with_warmup,
    'cosine': get_cosine_schedule_with_warmup,
}
cases = []
for schedule, make in MAKERS.items():
    for total in (1, 2, 10):
        for warmup in (0, 1, 3):
            if warmup >= total and total > 1:
                continue
            opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=LR)
            sched = make(opt, warmup, total)
            rates = []
            for _ in range(total):
                rates.append(opt.param_groups[0]['lr'])
                opt.step()
                sched.step()
            cases.append({'schedule': schedule, 'warmupSteps': warmup, 'totalSteps': total, 'lr': LR, 'rates': rates})
out = 'test/fixtures/lr-schedules.json'
with open(out, 'w') as f:
    json.dump({'source': 'transformers get_*_schedule_with_warmup', 'cases': cases}, f, indent=1)
    f.write('\n')
print(f'wrote {out}: {len(cases)} cases')
