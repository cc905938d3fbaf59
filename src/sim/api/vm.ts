/** VM.* and VBD.* messages. */
export {};
