/** task.destroy / task.cancel (getters are generic). */
import { fail } from '../failure';
import { def, str } from './registry';

def('task.destroy', {
  params: 1,
  async: false,
  handler: ({ pool }, [ref]) => {
    const t = str(ref);
    pool.db.get('task', t);
    pool.taskControllers.get(t)?.abort(new Error('task destroyed'));
    pool.taskControllers.delete(t);
    pool.db.delete('task', t);
    return '';
  },
});

def('task.cancel', {
  params: 1,
  async: false,
  handler: ({ pool }, [ref]) => {
    const t = str(ref);
    const rec = pool.db.get('task', t);
    if (rec.status !== 'pending') fail('OPERATION_NOT_ALLOWED', `task is ${rec.status as string}`);
    pool.db.update('task', t, { status: 'cancelling' });
    pool.taskControllers.get(t)?.abort(new Error('cancelled'));
    return '';
  },
});
