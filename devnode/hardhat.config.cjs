// The dev node pilotledger's rpc engine runs against: `python cli.py node`, or
// `npx hardhat --config hardhat.config.cjs node --port 8545` from this folder.
module.exports = {
  networks: {
    hardhat: {
      chainId: 7001,
      hardfork: "shanghai", // the contract artifacts are compiled for shanghai
      // Free gas, as on a permissioned network: no base fee, gas price 0, a large block.
      initialBaseFeePerGas: 0,
      gasPrice: 0,
      blockGasLimit: 2000000000,
      allowUnlimitedContractSize: false,
      // Scenarios date their business from 2022 and stamp each block with evm_mine.
      initialDate: "2021-01-01T00:00:00Z",
      // One block per batch, mined on request, transactions in the order they were sent.
      mining: { auto: false, interval: 0, mempool: { order: "fifo" } },
    },
  },
};
