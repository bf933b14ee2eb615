import { Command } from 'commander';
import { keyIdOf, newSealingKeyPair, SEALING_KEYS_VARIABLE, SEALING_PUBLIC_KEY_VARIABLE } from '../../config/sealing.js';

export function sealingKeyCommand(): Command {
  return new Command('sealing-key')
    .description('make a key pair for the credentials that CI masters seal for the worker fleet (docs/credentials.md)')
    .exitOverride()
    .action(() => {
      const pair = newSealingKeyPair();
      console.log(`# worker processes only (key id ${keyIdOf(Buffer.from(pair.publicKey, 'base64'))}):`);
      console.log(`${SEALING_KEYS_VARIABLE}=${pair.privateKey}`);
      console.log('# CI masters:');
      console.log(`${SEALING_PUBLIC_KEY_VARIABLE}=${pair.publicKey}`);
    });
}
