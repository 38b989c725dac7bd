import { MemoryObjectStore } from '../../src/storage/memory-store.js';
import { objectStoreConformance } from './conformance.js';

// The unit tier's object store keeps the same promises as the real adapters.
objectStoreConformance('memory', async () => ({ store: new MemoryObjectStore(), dispose: async () => undefined }), { presign: false });
